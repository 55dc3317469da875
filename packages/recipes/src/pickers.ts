import type {ServiceInstance} from './service-instances.js';

/** Chooses one instance of a list, or undefined when the list is empty. */
export type Picker = <M>(
  instances: readonly ServiceInstance<M>[],
) => ServiceInstance<M> | undefined;

/**
 * A picker that cycles through the instances in id order. It remembers the last id it
 * returned rather than a position, so instances joining or leaving do not make it skip
 * or repeat the others.
 */
export function roundRobinPicker(): Picker {
  let lastId: string | undefined;
  return <M>(instances: readonly ServiceInstance<M>[]): ServiceInstance<M> | undefined => {
    if (instances.length === 0) return undefined;
    const previous = lastId;
    const next =
      (previous === undefined ? undefined : instances.find(i => i.id > previous)) ?? instances[0];
    lastId = next?.id;
    return next;
  };
}

/** A picker that chooses uniformly at random (`random` returns a number in [0, 1)). */
export function randomPicker(random: () => number = Math.random): Picker {
  return <M>(instances: readonly ServiceInstance<M>[]): ServiceInstance<M> | undefined =>
    instances[Math.floor(random() * instances.length)];
}
