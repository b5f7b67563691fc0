/** What time it is: injected everywhere a rule depends on now, so tests and timers can move it. */
export type Clock = () => Date;
