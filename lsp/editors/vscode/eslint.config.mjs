// ESLint's and typescript-eslint's recommended rules, with type information. `npm run lint` runs it, and
// `npm run package` runs that, which is how tests/lsp/test_vscode.py builds the extension.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["out/", "node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  { files: ["eslint.config.mjs"], extends: [tseslint.configs.disableTypeChecked] },
);
