// prom-client's metric classes and registry, without the rest of the package: its index
// also loads the Pushgateway (http, https), Node's default metrics and cluster support,
// which the collector never uses and which cost its main thread ~10 MiB of RSS.
import type * as Prom from "prom-client";

export const Counter = require("prom-client/lib/counter") as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = require("prom-client/lib/gauge") as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = require("prom-client/lib/histogram") as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const Registry = require("prom-client/lib/registry") as typeof Prom.Registry;
export type Registry = Prom.Registry;
