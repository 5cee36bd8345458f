import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Model } from './model';

export const ModelContext = createContext<Model | null>(null);

/** The model, re-rendering the calling component whenever it changes. */
export function useModel(): Model {
  const model = useContext(ModelContext);
  if (!model) throw new Error('useModel outside <ModelContext.Provider>');
  const [, setTick] = useState(0);
  useEffect(() => model.subscribe(() => setTick((n) => n + 1)), [model]);
  return model;
}

let idCounter = 0;
/** A document-unique id prefix for ARIA references. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
