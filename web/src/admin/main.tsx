// Entry point of the admin console (/admin): the session decides between the
// login page and the console.

import { render } from 'preact';
import { App } from './app';
import { lang } from './i18n';
import '../shared/base.css';
import './admin.css';

document.documentElement.lang = lang;
render(<App />, document.getElementById('app')!);
