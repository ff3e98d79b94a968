import assert from "node:assert/strict";
import {
  parseUserIdText,
  principalFromClaims,
} from "../../domain/principal.ts";

Deno.test("principalFromClaims accepts sub as a positive integer or decimal string", () => {
  assert.deepEqual(principalFromClaims({ sub: 42 }), {
    userId: 42,
    roles: ["user"],
  });
  assert.deepEqual(principalFromClaims({ sub: "42" }), {
    userId: 42,
    roles: ["user"],
  });
  assert.equal(
    principalFromClaims({ sub: 9007199254740991 })?.userId,
    9007199254740991,
  );
});

Deno.test("principalFromClaims rejects a sub that is not a positive safe integer", async (t) => {
  for (
    const sub of [
      0,
      -1,
      1.5,
      "0",
      "-1",
      "01",
      "1.0",
      " 1",
      "1e3",
      "abc",
      "",
      "٤٢",
      9007199254740992,
      "9007199254740992",
      null,
      true,
      [1],
    ]
  ) {
    await t.step(JSON.stringify(sub) ?? String(sub), () => {
      assert.equal(principalFromClaims({ sub }), undefined);
    });
  }
  assert.equal(principalFromClaims({}), undefined);
});

Deno.test("principalFromClaims grants only exact admin and fulfillment roles", () => {
  assert.deepEqual(principalFromClaims({ sub: 1, roles: ["admin"] })?.roles, [
    "admin",
    "user",
  ]);
  assert.deepEqual(
    principalFromClaims({ sub: 1, roles: ["fulfillment", "admin", "admin"] })
      ?.roles,
    ["admin", "fulfillment", "user"],
  );
  assert.deepEqual(
    principalFromClaims({ sub: 1, roles: ["Admin", "root", 7, null] })?.roles,
    ["user"],
  );
  assert.deepEqual(principalFromClaims({ sub: 1, roles: "admin" })?.roles, [
    "user",
  ]);
  assert.deepEqual(
    principalFromClaims({ sub: 1, roles: { admin: true } })?.roles,
    ["user"],
  );
});

Deno.test("parseUserIdText accepts ASCII digits only", () => {
  assert.equal(parseUserIdText("7"), 7);
  assert.equal(parseUserIdText("007"), undefined);
  assert.equal(parseUserIdText("7a"), undefined);
  assert.equal(parseUserIdText("9007199254740991"), 9007199254740991);
  assert.equal(parseUserIdText("9007199254740992"), undefined);
});
