// One clock for the process: windows, record times, lot expiry and calibration. GMP mode runs on the
// system clock; training mode on a simulated clock that only moves forward (API.md "Training mode").
// Sessions, lockouts and password expiry always run on wall-clock time (`wall`).

export interface Clock {
  readonly training: boolean;
  /** Process time: what records, windows, expiry and calibration are judged against. */
  now(): Date;
  /** Wall-clock time: sessions and account security. */
  wall(): Date;
}

export class SystemClock implements Clock {
  readonly training = false;
  constructor(private readonly source: () => number = Date.now) {}
  now() { return new Date(this.source()); }
  wall() { return new Date(this.source()); }
}

/** Simulated now = wall-clock time + an offset that only grows; the offset is persisted by its owner. */
export class TrainingClock implements Clock {
  readonly training = true;
  constructor(private offsetMs: number, private readonly source: () => number = Date.now) {}
  now() { return new Date(this.source() + this.offsetMs); }
  wall() { return new Date(this.source()); }
  get offset() { return this.offsetMs; }
  advance(ms: number) { this.offsetMs += ms; }
}
