// Releasing native objects when a function that makes them fails half-way. (Where a block owns
// them, `using` releases them at its end, thrown errors included.)

/**
 * What `build()` returns (a promise is awaited); should it throw, `owned`, which the result would
 * have held, is disposed before the error goes on, so that a half-built result keeps no native
 * memory.
 */
export function disposeOnError<T>(owned: Disposable, build: () => T): T {
  const fail = (error: unknown): never => {
    owned[Symbol.dispose]();
    throw error;
  };
  try {
    const result = build();
    return (result instanceof Promise ? result.catch(fail) : result) as T;
  } catch (error) {
    return fail(error);
  }
}
