/** The error line under a form or a list: the table's message and each detail, announced to screen readers. */
export function ErrorText({ error }: { readonly error: string | null }): React.JSX.Element | null {
  if (error === null) return null;
  return (
    <p className="field-error" role="alert">
      {error}
    </p>
  );
}
