/** Replaced at build time by the bundler from package.json; tests run from sources see the dev marker. */
export const appVersion: string = process.env.PARADIM_VERSION ?? '0.0.0-dev';
export const productName = 'PARADIM Workstation';
