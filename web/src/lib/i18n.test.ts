import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import { detectLanguage, lang, logLine, t, translate } from './i18n';
import {
  END_MESSAGES,
  START_MESSAGE,
  STOP_MESSAGES,
  describeChange,
  describeUpdate,
  type Row,
} from '../../../shared/protocol';

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
    expect(translate('zh', 'log.gap', { expected: 11, seq: 15 })).toBe('数据缺失: 应收到 #11，实际收到 #15');
    expect(translate('en', 'log.loaded', {})).toBe('Loaded {count} records');
  });

  it('the t store follows the current language', () => {
    lang.set('en');
    expect(get(t)('stats.updates')).toBe('Changes');
    lang.set('zh');
    expect(get(t)('stats.updates')).toBe('更新次数');
  });
});

describe("changes and ends in the page's words", () => {
  it('are, in Chinese, the very words the server sends', () => {
    const person: Row = { id: 7, name: '王芳', age: 30, city: '上海', score: 80, status: '活跃' };
    for (const type of ['add', 'update', 'delete'] as const) {
      expect(translate('zh', `log.change.${type}`, { name: person.name })).toBe(describeChange(type, person));
    }
    expect(translate('zh', 'log.change.batch_update', { count: 2 })).toBe(
      describeChange('batch_update', [person, person]),
    );
    for (const reason of ['stopped', 'timeout'] as const) {
      expect(translate('zh', `log.end.${reason}`)).toBe(END_MESSAGES[reason]);
    }
    expect(translate('zh', 'log.started')).toBe(START_MESSAGE);
    for (const outcome of ['stopped', 'already_ended'] as const) {
      expect(translate('zh', `log.${outcome}`)).toBe(STOP_MESSAGES[outcome]);
    }
  });

  it('are English on an English page', () => {
    expect(translate('en', 'log.change.add', { name: '王芳' })).toBe('Added user: 王芳');
    expect(translate('en', 'log.end.timeout')).toBe('The session timed out; data generation has ended');
  });
});

describe('an update written through the API', () => {
  it('says what it changed in the server’s very words in Chinese, and in English on an English page', () => {
    const before: Row = { id: 7, name: '张三', age: 30, city: '北京', score: 85.5, status: '活跃' };
    const text = {
      key: 'log.change.updateFields' as const,
      params: { name: before.name },
      fields: [
        { field: 'city' as const, from: '北京', to: '上海' },
        { field: 'score' as const, from: '85.5', to: '90.1' },
      ],
    };
    expect(logLine('zh', text)).toBe(describeUpdate(before, { city: '上海', score: 90.1 }));
    // One colon after the name, as in 'Added user: …'.
    expect(logLine('en', text)).toBe('Updated user 张三: City 北京 → 上海, Score 85.5 → 90.1');
    expect(logLine('en', 'as sent')).toBe('as sent');
  });
});
