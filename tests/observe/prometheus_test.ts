import assert from "node:assert/strict";
import { encodeText, escapeLabelValue, formatValue } from "../../src/observe/prometheus.ts";

Deno.test("a family is written as HELP, TYPE and one line per sample", () => {
  const page = encodeText([{
    name: "certmanager_certificate_ready_status",
    help: "The ready status of the certificate.",
    type: "gauge",
    samples: [
      { labels: { name: "site-tls", namespace: "web", condition: "True" }, value: 1 },
      { labels: { name: "site-tls", namespace: "web", condition: "False" }, value: 0 },
    ],
  }]);
  assert.equal(
    page,
    "# HELP certmanager_certificate_ready_status The ready status of the certificate.\n" +
      "# TYPE certmanager_certificate_ready_status gauge\n" +
      'certmanager_certificate_ready_status{name="site-tls",namespace="web",condition="True"} 1\n' +
      'certmanager_certificate_ready_status{name="site-tls",namespace="web",condition="False"} 0\n',
  );
});

Deno.test("label values escape backslash, quote and newline; help escapes backslash and newline", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const page = encodeText([{
    name: "x",
    help: "line\\one\ntwo",
    type: "counter",
    samples: [{ labels: { l: 'q"' }, value: 2 }],
  }]);
  assert.equal(page, '# HELP x line\\\\one\\ntwo\n# TYPE x counter\nx{l="q\\""} 2\n');
});

Deno.test("special values and suffixes follow the text format", () => {
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(0.25), "0.25");
  const page = encodeText([{
    name: "d_seconds",
    help: "h",
    type: "histogram",
    samples: [
      { suffix: "_bucket", labels: { le: "+Inf" }, value: 3 },
      { suffix: "_sum", labels: {}, value: 1.5 },
      { suffix: "_count", labels: {}, value: 3 },
    ],
  }]);
  assert.match(page, /^d_seconds_bucket\{le="\+Inf"\} 3$/m);
  assert.match(page, /^d_seconds_sum 1\.5$/m);
  assert.match(page, /^d_seconds_count 3$/m);
});

Deno.test("an invalid metric or label name is refused", () => {
  assert.throws(() => encodeText([{ name: "a-b", help: "", type: "gauge", samples: [] }]), /invalid metric/);
  assert.throws(
    () => encodeText([{ name: "a", help: "", type: "gauge", samples: [{ labels: { "0x": "" }, value: 1 }] }]),
    /invalid label/,
  );
});

Deno.test("no families make an empty page", () => {
  assert.equal(encodeText([]), "");
});
