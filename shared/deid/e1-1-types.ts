/** An action code of PS3.15 Table E.1-1, including the combined codes where the standard leaves a choice. */
export type E11Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'X/Z' | 'X/D' | 'Z/D' | 'X/Z/D' | 'X/Z/U*';

/** Option columns of Table E.1-1 (Clean Pixel Data and Clean Recognizable Visual Features have no column). */
export type E11OptionColumn =
  | 'retainSafePrivate'
  | 'retainUids'
  | 'retainDeviceIdentity'
  | 'retainInstitutionIdentity'
  | 'retainPatientCharacteristics'
  | 'retainLongitudinalFullDates'
  | 'retainLongitudinalModifiedDates'
  | 'cleanDescriptors'
  | 'cleanStructuredContent'
  | 'cleanGraphics';

export interface E11Row {
  /** As printed in the standard, e.g. `(0010,0010)`, `(60XX,3000)`, `(GGGG,EEEE) WHERE GGGG IS ODD`. */
  readonly tag: string;
  /** 8 hex digits (upper case); `x` for a repeating-group digit; `private` for the odd-group row. */
  readonly pattern: string;
  readonly keyword: string;
  readonly name: string;
  readonly retired: boolean;
  readonly basic: E11Action;
  readonly options: Readonly<Partial<Record<E11OptionColumn, E11Action>>>;
}
