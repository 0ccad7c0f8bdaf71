import type { AppError } from '../../shared/errors/app-error.js';

export function ConnectionFailure({ error }: { readonly error: AppError }): React.JSX.Element {
  return (
    <main className="failure" role="alert">
      <h1>PARADIM Workstation</h1>
      <p>{error.message}</p>
      <p className="hint">
        Start the workstation with <code>npm start</code> and open the full address it prints, including the part after <code>#</code>.
      </p>
    </main>
  );
}
