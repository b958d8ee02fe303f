/**
 * dummy: a device that drops everything sent to it; handy to hold addresses. No options. Needs
 * CONFIG_DUMMY (some kernels lack it and answer "Unknown device type").
 * @module
 */
import { plainKind, type LinkKind } from './kind.js';

/** dummy takes no options. */
export interface DummyOptions {}
/** dummy reports no IFLA_INFO_DATA. */
export interface DummyInfo {}

export const dummy: LinkKind<DummyOptions, DummyInfo> = plainKind('dummy');
