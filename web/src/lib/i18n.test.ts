import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import { detectLanguage, lang, t, translate } from './i18n';

describe('detectLanguage', () => {
  it('follows a Chinese browser locale, and any other to English', () => {
    expect(detectLanguage(null, 'zh-CN')).toBe('zh');
    expect(detectLanguage(null, 'zh-TW')).toBe('zh');
    expect(detectLanguage(null, 'ZH')).toBe('zh');
    expect(detectLanguage(null, 'en-US')).toBe('en');
    expect(detectLanguage(null, 'fr')).toBe('en');
    expect(detectLanguage(null, undefined)).toBe('en');
  });

  it('lets a saved choice win, ignoring junk', () => {
    expect(detectLanguage('en', 'zh-CN')).toBe('en');
    expect(detectLanguage('zh', 'en-US')).toBe('zh');
    expect(detectLanguage('de', 'zh-CN')).toBe('zh');
  });
});

describe('translate', () => {
  it('speaks both languages in the words of the original demo', () => {
    expect(translate('zh', 'control.start')).toBe('🚀 开始生成数据');
    expect(translate('zh', 'control.stop')).toBe('⏹️ 停止生成');
    expect(translate('zh', 'stats.records')).toBe('记录总数');
    expect(translate('en', 'connection.reconnecting')).toBe('Reconnecting');
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('zh', 'log.gap', { expected: 11, seq: 15 })).toBe('数据缺失：应收到 #11，实际收到 #15');
    expect(translate('en', 'log.loaded', {})).toBe('Loaded {count} records');
  });

  it('the t store follows the current language', () => {
    lang.set('en');
    expect(get(t)('stats.updates')).toBe('Updates');
    lang.set('zh');
    expect(get(t)('stats.updates')).toBe('更新次数');
  });
});
