// The charts' colours; the browser tests look for the RTT line's pixels by it.
export const RTT_COLOUR = [0x1d, 0x4e, 0xd8] as const;
export const RTT_MAX_COLOUR = '#93c5fd';
export const LOSS_COLOUR = '#b91c1c';
export const LOSS_FILL = 'rgba(220, 38, 38, 0.35)';

export const rgb = ([red, green, blue]: readonly [number, number, number]) => `rgb(${red}, ${green}, ${blue})`;
