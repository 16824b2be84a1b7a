// privateNames finds the class members declared `private` in the widget's
// TypeScript that esbuild may safely rename (mangleProps): a private member
// is only ever reached through `this` inside its class, so a short name in
// the bundle changes nothing a reader of the object sees. A name is left
// alone when it also names anything else the bundle touches: a public
// property, a DOM or library member, a wire field, a JSX prop, a string
// literal (obj["name"], event names) or a word in the bundled library code
// (preact), since esbuild renames a property everywhere by name, not by
// class. Shrinks frame.js by ~500 B gzipped (docs/DESIGN.md, "Budgets").
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * privateNames(ts, root, libraryFiles) returns the sorted safe names.
 * ts is the app's TypeScript module, root the app's folder (its
 * tsconfig.json), libraryFiles the paths of the non-TypeScript sources the
 * bundle includes.
 */
export function privateNames(ts, root, libraryFiles) {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram(config.fileNames, config.options);
  const checker = program.getTypeChecker();
  const isPrivate = (decl) => (ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Private) !== 0;
  const sources = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes("/node_modules/"));

  const candidates = new Set();
  const unsafe = new Set();
  const visit = (node) => {
    if (ts.isClassElement(node) && node.name && ts.isIdentifier(node.name) && isPrivate(node)) candidates.add(node.name.text);
    if (ts.isParameter(node) && ts.isIdentifier(node.name) && isPrivate(node)) candidates.add(node.name.text);
    if (ts.isStringLiteralLike(node) || ts.isJsxAttribute(node)) unsafe.add(ts.isJsxAttribute(node) ? node.name.getText() : node.text);
    if (ts.isTemplateExpression(node)) {
      unsafe.add(node.head.text);
      for (const s of node.templateSpans) unsafe.add(s.literal.text);
    }
    const name = propertyName(ts, node);
    if (name) {
      const symbol = checker.getSymbolAtLocation(name);
      const decls = symbol?.declarations ?? [];
      if (decls.length === 0 || !decls.every(isPrivate)) unsafe.add(name.text);
    }
    ts.forEachChild(node, visit);
  };
  for (const f of sources) visit(f);

  const library = libraryFiles.map((p) => readFileSync(p, "utf8")).join("\n");
  return [...candidates]
    .filter((n) => !unsafe.has(n) && !new RegExp(`\\b${n}\\b`).test(library))
    .sort();
}

/** propertyName is the identifier naming a property at node, if node uses or declares one. */
function propertyName(ts, node) {
  if (ts.isPropertyAccessExpression(node)) return ts.isIdentifier(node.name) ? node.name : undefined;
  if (ts.isPropertyAssignment(node) || ts.isPropertySignature(node) || ts.isMethodSignature(node) || ts.isClassElement(node) || ts.isObjectLiteralElement(node)) {
    return node.name && ts.isIdentifier(node.name) ? node.name : undefined;
  }
  if (ts.isShorthandPropertyAssignment(node)) return node.name;
  if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
    const n = node.propertyName ?? node.name;
    return ts.isIdentifier(n) ? n : undefined;
  }
  return undefined;
}
