/**
 * Record shapes of the classes xapi-sim serves, in XAPI's wire field names (`ocaml/idl/datamodel*.ml`;
 * see docs/simulator-object-model.md), their defaults, and their conversion to typed wire values.
 */
export * from "./class-fields";
export * from "./host";
export * from "./metrics";
export * from "./network";
export * from "./session-task";
export * from "./storage";
export * from "./userdevice";
export * from "./vm";
export * from "./wire";
