// SalUn's "Avg. Gap": how far an unlearned model's four scores are from the Retrain model's.

export interface UnlearnScores {
  UA: number; // unlearning accuracy, 100 - forget accuracy
  RA: number; // retain accuracy
  TA: number; // test accuracy
  MIA: number; // MIA-efficacy
}

/** Mean of |a - retrain| over UA, RA, TA and MIA, in percentage points. */
export function avgGap(a: UnlearnScores, retrain: UnlearnScores): number {
  const keys = ['UA', 'RA', 'TA', 'MIA'] as const;
  return keys.reduce((sum, key) => sum + Math.abs(a[key] - retrain[key]), 0) / keys.length;
}
