import type { Rec } from '../api';
import { Link } from '../router';

/** The study's name and its screens, shown atop each of them. */
export function StudyNav({ study, current }: { study: Rec; current: 'overview' | 'sites' | 'subjects' }) {
  const tabs: [typeof current, string, string][] = [
    ['overview', 'Overview', `/studies/${study.id}`],
    ['sites', 'Sites', `/studies/${study.id}/sites`],
    ['subjects', 'Subjects', `/studies/${study.id}/subjects`],
  ];
  return (
    <div class="study-head">
      <p class="crumbs"><Link href="/">Portfolio</Link> / {study.protocol_number}</p>
      <h1>{study.protocol_number}{study.acronym ? ` · ${study.acronym}` : ''}</h1>
      <nav aria-label="Study">
        <ul class="tabs">
          {tabs.map(([k, text, href]) => (
            <li key={k}><Link href={href} aria-current={current === k ? 'page' : undefined}>{text}</Link></li>
          ))}
        </ul>
      </nav>
    </div>
  );
}
