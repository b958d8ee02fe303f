/**
 * The demo's account of what it did: steps grouped in sections, each with its duration in
 * milliseconds (one aligned column) and its result when there is more to say than "ok".
 * @module
 */
import { performance } from 'node:perf_hooks';
import type { StepRunner } from './topologies.js';

interface Row {
  label: string;
  ms: number;
  /** 'ok', a result ('rtt 0.051 ms'), or 'FAILED: why'. */
  result: string;
  ok: boolean;
}

interface Section {
  title: string;
  rows: Row[];
  /** Free text printed under the title instead of (or after) rows. */
  lines: string[];
}

export class Report {
  private readonly sections: Section[] = [];
  private readonly notes: string[] = [];
  private refusal: Error | undefined;

  /** Refuse every later step with `reason` (the run was interrupted): the run stops at its next step. */
  refuse(reason: Error): void {
    this.refusal = reason;
  }

  /** Run steps again (the teardown runs even after {@link refuse}). */
  accept(): void {
    this.refusal = undefined;
  }

  /** Start a new section; the steps that follow belong to it. */
  section(title: string): void {
    this.sections.push({ title, rows: [], lines: [] });
  }

  /** A section of plain text (no timings). */
  text(title: string, lines: string[]): void {
    this.sections.push({ title, rows: [], lines });
  }

  /**
   * Run and time one step. `describe` turns its value into the result column and says whether it
   * counts as a success; a step that throws is recorded as FAILED and the error goes on.
   */
  async timed<T>(label: string, fn: () => Promise<T>, describe?: (value: T) => { result: string; ok: boolean }): Promise<T> {
    if (this.refusal) throw this.refusal;
    if (this.sections.length === 0) this.section('');
    const rows = this.sections[this.sections.length - 1].rows;
    const t0 = performance.now();
    try {
      const value = await fn();
      rows.push({ label, ms: performance.now() - t0, ...(describe ? describe(value) : { result: 'ok', ok: true }) });
      return value;
    } catch (e) {
      rows.push({ label, ms: performance.now() - t0, result: `FAILED: ${e instanceof Error ? e.message : String(e)}`, ok: false });
      throw e;
    }
  }

  /** The report as a {@link StepRunner} for the topology builders. */
  readonly step: StepRunner = (label, fn, describe) => this.timed(label, fn, describe);

  /** A line printed after the table. */
  note(line: string): void {
    this.notes.push(line);
  }

  /** Whether every step succeeded. */
  get ok(): boolean {
    return this.sections.every((s) => s.rows.every((r) => r.ok));
  }

  /** Total milliseconds of the steps of the sections whose title starts with `prefix` ('' for all). */
  total(prefix = ''): number {
    return this.sections.filter((s) => s.title.startsWith(prefix)).flatMap((s) => s.rows).reduce((sum, r) => sum + r.ms, 0);
  }

  /** Number of steps recorded. */
  get steps(): number {
    return this.sections.reduce((n, s) => n + s.rows.length, 0);
  }

  /** Every section's title, then its steps: duration (aligned), what was done, and the result when it says more than ok. */
  render(): string {
    const msText = (ms: number) => `${ms.toFixed(2)} ms`;
    const width = Math.max(0, ...this.sections.flatMap((s) => s.rows).map((r) => msText(r.ms).length));
    const lines: string[] = [];
    for (const s of this.sections) {
      lines.push('', s.title);
      for (const r of s.rows) lines.push(`  ${msText(r.ms).padStart(width)}  ${r.label}${r.result === 'ok' ? '' : `  -> ${r.result}`}`);
      for (const l of s.lines) lines.push(`  ${l}`);
    }
    if (this.notes.length > 0) lines.push('', ...this.notes);
    return lines.join('\n');
  }
}
