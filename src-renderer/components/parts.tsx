/** Small shared pieces: error line, avatar, empty state. */
import type { ReactNode } from 'react';
import type { UiError } from '../api.js';
import type { ErrorCode } from '../../src-main/errors.js';
import { errorText } from '../format.js';

/** The error in words; `words` replaces the message for codes a view can say better. */
export function ErrorLine({ error, words }: { error: UiError | undefined; words?: Partial<Record<ErrorCode, string>> }) {
  if (!error) return null;
  return (
    <p className="error" role="alert" data-code={error.code}>
      {words?.[error.code] ?? errorText(error)}
    </p>
  );
}

export function Avatar({ picture, label }: { picture: string | undefined; label: string }) {
  const initials = label.replace(/@.*/, '').slice(0, 2).toUpperCase();
  return picture ? <img className="avatar" src={picture} alt="" width={40} height={40} /> : <span className="avatar" aria-hidden="true">{initials}</span>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const id = `h-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return (
    <section aria-labelledby={id} className="section">
      <header className="section-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
