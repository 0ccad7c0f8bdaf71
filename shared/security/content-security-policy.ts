/**
 * The workstation window's Content-Security-Policy, for both shells. No inline script, no eval (WebAssembly
 * compilation is allowed for the image codecs), no plugins, no framing, no form posts; connections only to
 * our own origin plus what the shell names (the browser shell's WebSocket).
 */
export function contentSecurityPolicy(extraConnectSources: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    ["connect-src 'self'", ...extraConnectSources].join(' '),
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}
