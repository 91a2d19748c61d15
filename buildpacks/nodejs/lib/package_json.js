// Usage: node package_json.js PACKAGE_JSON DOTTED.KEY...
// Prints each value from package.json followed by a NUL byte (objects as JSON, absent values empty),
// so one node start answers every question the buildpack has.
const fs = require("fs");
const [file, ...keys] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
for (const key of keys) {
  let value = manifest;
  for (const part of key.split(".")) {
    value = value !== null && typeof value === "object" ? value[part] : undefined;
  }
  const text = value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  process.stdout.write(text + "\0");
}
