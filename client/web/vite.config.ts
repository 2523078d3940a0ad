import { defineConfig } from "vite";

// The console is served by goodwilld at /console/ from the files this
// writes to dist/ (embedded with go:embed). JSX compiles to Preact's
// runtime (tsconfig's jsxImportSource), so no framework plugin is needed.
export default defineConfig({
  base: "/console/",
  // npm run dev: the sources on http://localhost:5173/console/, the API
  // from a goodwilld on its default port.
  server: { proxy: { "/v1": "http://127.0.0.1:8080" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Stable names: dist/ is committed, and a rebuild of the same sources
    // must give the same files (make check-console compares them).
    rollupOptions: {
      output: {
        entryFileNames: "assets/console.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
});
