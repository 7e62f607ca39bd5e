/** The addon: its types (types.ts) and how it is found and loaded (loader.ts). */
export * from "./types";
export * from "./loader";
