import assert from "node:assert/strict";
import {
  bodyExcerpt,
  describeProblem,
  expectJsonObject,
  parseProblem,
  parseRetryAfter,
  responseError,
  validationError,
} from "../../src/acme/problem.ts";
import { NotariatError } from "../../src/errors.ts";

const NOW = new Date("2026-01-02T03:04:05Z");

Deno.test("parseRetryAfter reads delay seconds and HTTP dates, ignores garbage", () => {
  assert.equal(parseRetryAfter("120", NOW)?.toISOString(), "2026-01-02T03:06:05.000Z");
  assert.equal(
    parseRetryAfter("Fri, 02 Jan 2026 04:00:00 GMT", NOW)?.toISOString(),
    "2026-01-02T04:00:00.000Z",
  );
  assert.equal(parseRetryAfter(undefined, NOW), undefined);
  assert.equal(parseRetryAfter("soon", NOW), undefined);
});

Deno.test("parseProblem keeps type, detail and subproblems with their identifiers", () => {
  const problem = parseProblem({
    type: "urn:ietf:params:acme:error:rejectedIdentifier",
    detail: "Error creating new order\n:: 2 identifiers",
    subproblems: [
      {
        type: "urn:ietf:params:acme:error:rejectedIdentifier",
        detail: "bad",
        identifier: { type: "dns", value: "x.test" },
      },
    ],
  });
  assert.deepEqual(problem, {
    type: "urn:ietf:params:acme:error:rejectedIdentifier",
    detail: "Error creating new order :: 2 identifiers",
    identifier: undefined,
    subproblems: [{
      type: "urn:ietf:params:acme:error:rejectedIdentifier",
      detail: "bad",
      identifier: "x.test",
      subproblems: [],
    }],
  });
  assert.equal(
    describeProblem(problem!),
    "rejectedIdentifier: Error creating new order :: 2 identifiers (x.test: rejectedIdentifier: bad)",
  );
  assert.equal(parseProblem("<html>"), undefined);
  assert.equal(parseProblem({ status: "valid" }), undefined);
});

Deno.test("a rateLimited answer names the Retry-After time and carries it", () => {
  const err = responseError("creating the order", {
    status: 429,
    headers: { "retry-after": "3600" },
    body: { type: "urn:ietf:params:acme:error:rateLimited", detail: "too many certificates for alpha.test" },
  }, NOW);
  assert.equal(err.kind, "acme");
  assert.equal(
    err.message,
    "creating the order: rate limited by the CA (retry after 2026-01-02T04:04:05.000Z): too many certificates for alpha.test",
  );
  assert.equal(err.retryAfter?.toISOString(), "2026-01-02T04:04:05.000Z");
});

Deno.test("a rateLimited answer without Retry-After says so", () => {
  const err = responseError("creating the order", {
    status: 429,
    headers: {},
    body: { type: "urn:ietf:params:acme:error:rateLimited", detail: "slow down" },
  }, NOW);
  assert.equal(err.message, "creating the order: rate limited by the CA (no Retry-After given): slow down");
  assert.equal(err.retryAfter, undefined);
});

Deno.test("other problems keep HTTP status, type and detail; a non-problem body is quoted briefly", () => {
  const err = responseError("finalizing the order", {
    status: 403,
    headers: {},
    body: { type: "urn:ietf:params:acme:error:unauthorized", detail: "Account is not valid" },
  }, NOW);
  assert.equal(
    err.message,
    "finalizing the order: the CA answered HTTP 403 unauthorized: Account is not valid",
  );
  const html = responseError("creating the order", {
    status: 502,
    headers: {},
    body: "<html>Bad Gateway</html>",
  }, NOW);
  assert.equal(
    html.message,
    "creating the order: the CA answered HTTP 502 without a problem document: <html>Bad Gateway</html>",
  );
});

Deno.test("a failed validation names the domain, the TXT name the CA looked at and the CA's detail", () => {
  const wrong = validationError(
    "delegated.alpha.test",
    "_acme-challenge.delegated.alpha.test (CNAME to delegated.beta.test)",
    parseProblem({
      type: "urn:ietf:params:acme:error:unauthorized",
      detail: 'Incorrect TXT record "abc" found',
    }),
  );
  assert.equal(
    wrong.message,
    "dns-01 validation of delegated.alpha.test failed: the CA did not find the expected TXT value at " +
      '_acme-challenge.delegated.alpha.test (CNAME to delegated.beta.test) (unauthorized: Incorrect TXT record "abc" found)',
  );
  const dns = validationError(
    "x.test",
    "_acme-challenge.x.test",
    parseProblem({
      type: "urn:ietf:params:acme:error:dns",
      detail: "SERVFAIL looking up TXT",
    }),
  );
  assert.equal(
    dns.message,
    "dns-01 validation of x.test failed: the CA's DNS lookup of _acme-challenge.x.test failed (dns: SERVFAIL looking up TXT)",
  );
  assert.equal(
    validationError("x.test", "_acme-challenge.x.test", undefined).message,
    "dns-01 validation of x.test failed: the CA declared the authorization invalid without a reason",
  );
});

Deno.test("an answer without a problem document: an empty body is said so, a page is shown on one line", () => {
  const empty = responseError("validation of x.test", { status: 503, headers: {}, body: "" }, NOW);
  assert.equal(empty.message, "validation of x.test: the CA answered HTTP 503 with an empty body");
  const page = responseError("finalizing the order", {
    status: 500,
    headers: { "retry-after": "30" },
    body: "<html>\n  <body>Internal\tError</body>\n</html>\n",
  }, NOW);
  assert.equal(
    page.message,
    "finalizing the order: the CA answered HTTP 500 without a problem document: <html> <body>Internal Error</body> </html>",
  );
  assert.equal(page.retryAfter?.toISOString(), "2026-01-02T03:04:35.000Z");
});

Deno.test("bodyExcerpt: one line, at most 200 characters, empty for no body", () => {
  assert.equal(bodyExcerpt(undefined), "");
  assert.equal(bodyExcerpt(null), "");
  assert.equal(bodyExcerpt("  a\n b  "), "a b");
  assert.equal(bodyExcerpt({ a: [1] }), '{"a":[1]}');
  assert.equal(bodyExcerpt("x".repeat(250)), `${"x".repeat(200)}...`);
});

Deno.test("expectJsonObject returns the object with the fields, else names the step, status and what came", () => {
  const order = { status: "pending", authorizations: [], finalize: "https://ca/f" };
  const ok = { status: 201, headers: {}, body: order };
  assert.equal(expectJsonObject("creating the order", ok, ["status", "authorizations"]), order);
  const failure = (body: unknown, fields: string[]) => {
    try {
      expectJsonObject("creating the order", { status: 200, headers: {}, body }, fields);
    } catch (err) {
      assert.ok(err instanceof NotariatError);
      assert.equal(err.kind, "acme");
      return err.message;
    }
    assert.fail("expected a NotariatError");
  };
  assert.equal(
    failure("<p>maintenance</p>", ["status"]),
    "creating the order: the CA answered HTTP 200 with a body that is not a JSON object: <p>maintenance</p>",
  );
  assert.equal(failure("", ["status"]), "creating the order: the CA answered HTTP 200 with an empty body");
  assert.equal(
    failure(42, ["status"]),
    "creating the order: the CA answered HTTP 200 with a body that is not a JSON object: 42",
  );
  assert.equal(
    failure(["a"], ["status"]),
    'creating the order: the CA answered HTTP 200 with a body that is not a JSON object: ["a"]',
  );
  assert.equal(
    failure({ status: "pending" }, ["status", "authorizations", "finalize"]),
    'creating the order: the CA answered HTTP 200 with JSON without "authorizations", "finalize"',
  );
});
