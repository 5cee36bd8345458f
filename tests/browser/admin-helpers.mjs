// Shared by the admin console's browser tests (admin*.test.mjs): a second
// structure and a few test users imported beside the demo school, the
// console's login, axe-core on the console.
//
// `extendSchool(server)` imports the demo school (crates/cli/src/demo-school.json,
// with its administrators) plus « Lycée Victor Hugo » (0750002B) with its own
// pupil and local administrator, and a pupil of the collège whose name looks
// like HTML, through `causerie directory import` on the running server's data.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO, TIMEOUT, watch } from './harness.mjs';

const BINARY = process.env.CAUSERIE_BIN ?? join(REPO, 'target/debug/causerie');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The demo school's administrators (README.md, crates/cli/src/demo-school.json). */
export const LOCAL_ADMIN = { login: 'admin.college', password: 'demo', name: 'GIRARD Sylvie' };
export const SUPER_ADMIN = { login: 'admin', password: 'demo' };
/** Added by extendSchool: the lycée's local administrator and one of its pupils. */
export const LYCEE_ADMIN = { login: 'admin.lycee', password: 'demo', name: 'FONTAINE Paul' };
export const LYCEE = { id: '0750002B', name: 'Lycée Victor Hugo' };
export const COLLEGE = { id: '0750001A', name: 'Collège Jean Moulin' };
export const HTML_NAME = { login: 'jules.html', last: '<img src=x onerror=alert(1)>', first: '<b>Jules</b>' };

export function cli(server, ...args) {
  const r = spawnSync(BINARY, ['--config', join(server.root, 'causerie.toml'), ...args], {
    cwd: server.root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`causerie ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `edit(school)`, when given, changes the snapshot before the import (e.g. collectivités). */
export function extendSchool(server, edit) {
  const school = JSON.parse(readFileSync(join(REPO, 'crates/cli/src/demo-school.json'), 'utf8'));
  school.structures.push({ id: LYCEE.id, name: LYCEE.name });
  school.classes.push({ id: `${LYCEE.id}-2A`, structure: LYCEE.id, name: '2nde A' });
  school.users.push(
    {
      login: 'tom.lycee',
      last_name: 'Lefebvre',
      first_name: 'Tom',
      profile: 'student',
      structures: [LYCEE.id],
      classes: [`${LYCEE.id}-2A`],
      password: 'demo',
    },
    {
      login: LYCEE_ADMIN.login,
      last_name: 'Fontaine',
      first_name: 'Paul',
      profile: 'personnel',
      structures: [LYCEE.id],
      password: LYCEE_ADMIN.password,
      admin_of: [LYCEE.id],
    },
    {
      login: HTML_NAME.login,
      last_name: HTML_NAME.last,
      first_name: HTML_NAME.first,
      profile: 'student',
      structures: [COLLEGE.id],
      classes: [`${COLLEGE.id}-6A`],
      password: 'demo',
    },
  );
  if (edit) edit(school);
  const file = join(server.root, 'school.json');
  writeFileSync(file, JSON.stringify(school, null, 2));
  cli(server, 'directory', 'import', file);
}

/** A browser context of its own on the console's login page. */
export async function openConsole(browser, server, { locale = 'fr-FR', axe = false } = {}) {
  const context = await browser.newContext({ locale, bypassCSP: axe, viewport: { width: 1200, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = watch(await context.newPage());
  await page.goto(`${server.url}/admin`);
  await page.locator('#login-id').waitFor();
  return page;
}

/** Signs in on the console's login page; waits for the structure picker. */
export async function consoleSignIn(page, { login, password }) {
  await page.getByRole('textbox', { name: 'Identifiant' }).fill(login);
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.getByRole('heading', { name: 'Établissements', level: 1 }).waitFor();
  return page;
}

/** Opens one section of a structure from the picker and the structure's menu. */
export async function openSection(page, structureName, section) {
  await page.getByRole('navigation', { name: 'Menu de la console' }).getByRole('link', { name: 'Établissements' }).click();
  await page.getByRole('table', { name: 'Établissements que vous administrez' }).getByRole('link', { name: structureName }).click();
  await page.getByRole('navigation', { name: 'Rubriques de l’établissement' }).getByRole('link', { name: section }).click();
  await page.getByRole('heading', { name: section, level: 1 }).waitFor();
}

/** The text announced in the console's status live region. */
export function announced(page, text) {
  return page.getByRole('status').filter({ hasText: text }).waitFor();
}

/** axe-core's WCAG 2.1 A/AA rules (context opened with `axe: true`); fails with the violations. */
export async function checkA11y(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  const problems = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
  if (problems.length > 0) throw new Error(`${what}:\n${problems.join('\n')}`);
}
