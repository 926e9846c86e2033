/** A verify check, the callback that records one, and the families verify runs or reports not applicable. */
import { type FamilyId } from './checkFamilies.js';

export interface Check {
  readonly name: string;
  /** The family the check belongs to (checkFamilies.ts). */
  readonly family: FamilyId;
  readonly expected: string;
  readonly observed: string;
  readonly ok: boolean;
}

/** The families verify runs, and those it cannot, with the reason; the latter can grow while verify runs. */
export interface Families {
  applies(family: FamilyId): boolean;
  cannot(family: FamilyId, reason: string): void;
}

export type CheckFn = (name: string, expected: string, observed: string, ok?: boolean) => void;
