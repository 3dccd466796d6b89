import { ROW_STATUSES, type Row, type RowPatch } from '../../shared/protocol.js';
import { pick, randomIntIn, type Random } from './random.js';

const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤'.split(
    '',
  );
const GIVEN_NAMES =
  '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鑫博文浩宇欣怡子涵梓轩一诺思远雨桐俊杰晓东建国志强海燕春梅'.split(
    '',
  );
const CITIES = [
  '北京',
  '上海',
  '广州',
  '深圳',
  '杭州',
  '成都',
  '武汉',
  '西安',
  '南京',
  '重庆',
  '天津',
  '苏州',
  '长沙',
  '郑州',
  '青岛',
  '沈阳',
  '厦门',
  '昆明',
  '大连',
  '哈尔滨',
] as const;

export type NewRow = Omit<Row, 'id'>;

/** A score between 60.0 and 100.0 with one decimal. */
export function randomScore(random: Random): number {
  return randomIntIn(random, 600, 1000) / 10;
}

export function randomName(random: Random): string {
  const given = randomIntIn(random, 1, 2);
  let name = pick(random, SURNAMES);
  for (let i = 0; i < given; i++) name += pick(random, GIVEN_NAMES);
  return name;
}

/** A realistic person for the table; the store gives it its id. */
export function randomRow(random: Random): NewRow {
  return {
    name: randomName(random),
    age: randomIntIn(random, 18, 65),
    city: pick(random, CITIES),
    score: randomScore(random),
    status: pick(random, ROW_STATUSES),
  };
}

/**
 * What an update does to a person: a new score most of the time, often a new
 * status, sometimes a birthday. Every field in the patch really changes.
 */
export function randomPatch(random: Random, row: Row): RowPatch {
  const patch: RowPatch = {};
  const roll = random();
  if (roll < 0.8) patch.score = differentScore(random, row.score);
  if (roll >= 0.5)
    patch.status = pick(
      random,
      ROW_STATUSES.filter((s) => s !== row.status),
    );
  if (random() < 0.1 && row.age < 65) patch.age = row.age + 1;
  return patch;
}

function differentScore(random: Random, current: number): number {
  for (;;) {
    const score = randomScore(random);
    if (score !== current) return score;
  }
}
