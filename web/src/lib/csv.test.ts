import { describe, expect, it } from 'vitest';
import type { Row } from '../../../shared/protocol';
import { csvField, toCsv } from './csv';

describe('csvField', () => {
  it('leaves plain text and numbers as they are', () => {
    expect(csvField('北京')).toBe('北京');
    expect(csvField(88.5)).toBe('88.5');
  });

  it('quotes commas, quotes and line breaks, doubling the quotes inside', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded ')).toBe('" padded "');
  });

  it('neutralizes text a spreadsheet would run as a formula', () => {
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-2')).toBe("'-2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tcmd')).toBe("'\tcmd");
    // A number is data, whatever its sign.
    expect(csvField(-2)).toBe('-2');
  });
});

describe('toCsv', () => {
  it('writes a header and one CRLF-ended line per row, in the order given', () => {
    const rows: Row[] = [
      { id: 2, name: '=1+1', age: 30, city: '北京, 朝阳', score: 9.5, status: '活跃' },
      { id: 1, name: '张三', age: 41, city: '上海', score: 70, status: '离线' },
    ];
    expect(toCsv(rows)).toBe(
      'id,name,age,city,score,status\r\n2,\'=1+1,30,"北京, 朝阳",9.5,活跃\r\n1,张三,41,上海,70,离线\r\n',
    );
  });
});
