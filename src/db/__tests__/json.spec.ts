/**
 * The one reading of the file's JSON columns (json.ts): NULL, numbers, text that is not JSON,
 * and values of the wrong shape, as the Datasets page's splits and the dataset records read them.
 */
import { jsonArray, jsonObject, parseJson } from '../json';

describe('the JSON columns', () => {
  it('parse text, keep numbers, read NULL as null', () => {
    expect(parseJson('{"a": [1, "x"]}')).toEqual({ a: [1, 'x'] });
    expect(parseJson(5)).toBe(5);
    expect(parseJson(null)).toBeNull();
    expect(parseJson(undefined)).toBeNull();
  });

  it('hand text that is not JSON to the caller, which answers in its place', () => {
    const problems: string[] = [];
    expect(parseJson('{oops', message => problems.push(message) && 'as logged')).toBe('as logged');
    expect(problems).toHaveLength(1);
    expect(parseJson('{oops')).toBeNull();
  });

  it('read arrays and objects, anything else as empty', () => {
    expect(jsonArray('["train", "test"]')).toEqual(['train', 'test']);
    expect(jsonArray('{"a": 1}')).toEqual([]);
    expect(jsonArray('not json')).toEqual([]);
    expect(jsonArray(null)).toEqual([]);
    expect(jsonObject('{"gpu": 1}')).toEqual({ gpu: 1 });
    expect(jsonObject('[1]')).toEqual({});
    expect(jsonObject('nope')).toEqual({});
    expect(jsonObject(null)).toEqual({});
  });
});
