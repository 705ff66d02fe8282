/**
 * Rate slots shared by every worker process of one broker (the fleet), so a cloud's per-account
 * quota holds however many workers run. The vault's PostgreSQL keeps them (store/rate-slots.ts);
 * a target asks for the next slot of a key and waits until it comes.
 */
export interface RateSlots {
  /**
   * Reserve the next slot of `key`, one every `intervalMs`, letting `toleranceMs` worth of slots go
   * early (a burst); resolves with how long to wait before using it (0 or less: now).
   */
  reserve(key: string, intervalMs: number, toleranceMs: number): Promise<number>;
}
