import assert from "node:assert/strict";
import {
  DECLARED_BODY_LIMIT,
  describeChecks,
  ORDER_CHANGE_CHECKS,
  V1_CHECKS,
} from "../../routes/http/checks.ts";
import { withTestContext } from "../fixtures/mod.ts";

Deno.test("the app's middleware makes the checks every /v1 request meets in the order checks.ts lists them", () =>
  withTestContext((ctx) => {
    const chain = ctx.app.routes.map((route) => route.handler.name);
    const listed = [DECLARED_BODY_LIMIT, ...V1_CHECKS].map((check) =>
      check.middleware!
    );
    const positions = listed.map((name) => chain.indexOf(name));
    for (const [i, name] of listed.entries()) {
      assert.ok(positions[i]! >= 0, `${name} is not in the chain`);
    }
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  }));

Deno.test("a change's order of checks puts the body before existence without If-Match, after the version with it", () => {
  const without = describeChecks(ORDER_CHANGE_CHECKS.withoutIfMatch);
  const withIt = describeChecks(ORDER_CHANGE_CHECKS.withIfMatch);
  assert.ok(without.indexOf("the body") < without.indexOf("existence"));
  assert.ok(withIt.indexOf("`If-Match`") < withIt.indexOf("the body"));
  assert.ok(withIt.indexOf("existence") < withIt.indexOf("`If-Match`"));
});
