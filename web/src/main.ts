import { mount } from 'svelte';
import App from './App.svelte';
import { initLanguage } from './lib/i18n';
import { liveTable } from './lib/liveTable';
import './app.css';

initLanguage();

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const app = mount(App, { target });
void liveTable.resumeOrLoad();

export default app;
