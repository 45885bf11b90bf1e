import assert from "node:assert/strict";
import { decodeWatchEvent, lineSplitter } from "../../src/kube/watch_events.ts";

Deno.test("watch events: changes carry name, version and labels; bookmarks the version; errors the Status", () => {
  const meta = { name: "a", resourceVersion: "12", labels: { x: "y" } };
  assert.deepEqual(decodeWatchEvent(JSON.stringify({ type: "MODIFIED", object: { metadata: meta } })), {
    type: "MODIFIED",
    item: meta,
  });
  assert.deepEqual(
    decodeWatchEvent('{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"99"}}}'),
    { type: "BOOKMARK", resourceVersion: "99" },
  );
  assert.deepEqual(
    decodeWatchEvent(
      '{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old resource version"}}',
    ),
    { type: "ERROR", code: 410, message: "too old resource version" },
  );
});

Deno.test("watch events: blank, garbled, unnamed and unknown lines are skipped", () => {
  for (
    const line of ["", "  ", "{", '{"type":"ADDED","object":{}}', '{"type":"WHATEVER","object":{}}', "null"]
  ) {
    assert.equal(decodeWatchEvent(line), undefined, line);
  }
});

Deno.test("line splitter: lines split across chunks and multi-byte characters come out whole", () => {
  const split = lineSplitter();
  const bytes = new TextEncoder().encode('{"a":"é"}\n{"b":1}\n{"c"');
  assert.deepEqual(split(bytes.slice(0, 7)), []);
  assert.deepEqual(split(bytes.slice(7, 12)), ['{"a":"é"}']);
  assert.deepEqual(split(bytes.slice(12)), ['{"b":1}']);
  assert.deepEqual(split(new TextEncoder().encode(":2}\n")), ['{"c":2}']);
});
