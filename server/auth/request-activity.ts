/**
 * How many requests are being worked on: received and not yet at their audit entry. The audit trail asks it before
 * each commit: when no request but those waiting for the commit needs the event loop, the commit syncs on it (the
 * cheapest way here); otherwise the sync goes to the thread pool so that the other requests go on meanwhile.
 */
export class RequestActivity {
  #working = 0;

  get idle(): boolean {
    return this.#working === 0;
  }

  /** Counts one request as working; the function returned ends it (calling it again does nothing). */
  begin(): () => void {
    this.#working += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#working -= 1;
    };
  }
}
