// The sign-in form shared by the chat window and the admin console: the same
// fields, labels wired to inputs, error announced by a live region and tied to
// the fields (aria-describedby), the same keyboard behaviour. Each caller keeps
// its own state, catalogue and what happens on submit.
import type { ComponentChildren, JSX } from 'preact';

export interface LoginLabels {
  heading: string;
  intro: string;
  id: string;
  password: string;
  submit: string;
  /** Shown while signing in. */
  busy: string;
}

export interface LoginFormProps {
  labels: LoginLabels;
  id: string;
  password: string;
  onId: (value: string) => void;
  onPassword: (value: string) => void;
  /** The fields are marked invalid (the last attempt failed). */
  invalid: boolean;
  /** The text under the fields (an error, or a notice such as an ended session). */
  message?: string | null;
  busy: boolean;
  onSubmit: (e: Event) => void;
  /** Shown before the fields (the chat: « Se connecter avec l'ENT »). */
  lead?: ComponentChildren;
}

export function LoginForm(p: LoginFormProps): JSX.Element {
  const describedBy = p.message ? 'login-error' : undefined;
  const invalid = p.invalid ? 'true' : undefined;
  return (
    <form class="login-box" onSubmit={p.onSubmit} noValidate>
      <h1>{p.labels.heading}</h1>
      <p>{p.labels.intro}</p>
      {p.lead}
      <div class="field">
        <label for="login-id">{p.labels.id}</label>
        <input
          id="login-id"
          name="username"
          type="text"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          value={p.id}
          autoFocus
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onInput={(e) => p.onId((e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="login-password">{p.labels.password}</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autocomplete="current-password"
          value={p.password}
          aria-invalid={invalid}
          aria-describedby={describedBy}
          onInput={(e) => p.onPassword((e.target as HTMLInputElement).value)}
        />
      </div>
      <p id="login-error" class="error" role="alert">
        {p.message ?? ''}
      </p>
      <button type="submit" class="primary" disabled={p.busy}>
        {p.labels.submit}
      </button>
      {p.busy && (
        <p class="hint" role="status">
          {p.labels.busy}
        </p>
      )}
    </form>
  );
}
