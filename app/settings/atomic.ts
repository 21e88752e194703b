// The atomic writes live with the other safe file handling (app/files/write.ts); settings, window
// state, update state and the login item all save through them.
export { createFileAtomic, removeStaleTemps, writeFileAtomic } from '../files/write';
