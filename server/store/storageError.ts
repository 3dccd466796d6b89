/** A store cannot be opened (a data directory in use or unusable, Redis out of reach); the message says why. */
export class StorageError extends Error {
  override name = 'StorageError';
}
