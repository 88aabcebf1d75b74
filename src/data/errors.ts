/** A data set or split input that cannot be used: the message names the file and what is wrong. */
export class DataError extends Error {
  override name = 'DataError';
}
