// A small history router: the server answers index.html for every path
// that is not a file or the API, so each screen has its own address.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((fn) => fn());
  window.scrollTo?.(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, set] = useState(0);
  useEffect(() => {
    const fn = () => set((n) => n + 1);
    listeners.add(fn);
    window.addEventListener('popstate', fn);
    return () => { listeners.delete(fn); window.removeEventListener('popstate', fn); };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Matches "/studies/:id/sites" against a path; numeric params come back as numbers. */
export function match(pattern: string, path: string): Record<string, number> | null {
  const p = pattern.split('/');
  const s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, number> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) {
      if (!/^[1-9]\d{0,15}$/.test(s[i])) return null;
      out[p[i].slice(1)] = Number(s[i]);
    } else if (p[i] !== s[i]) return null;
  }
  return out;
}

export function Link({ href, children, ...rest }: { href: string; children: ComponentChildren } & JSX.HTMLAttributes<HTMLAnchorElement>) {
  return (
    <a href={href} {...rest} onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    }}>{children}</a>
  );
}
