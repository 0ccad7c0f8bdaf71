/** Tags as uint32 numbers: (group << 16) | element. */
export const Tag = {
  FileMetaInformationGroupLength: 0x00020000,
  FileMetaInformationVersion: 0x00020001,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SpecificCharacterSet: 0x00080005,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  Modality: 0x00080060,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientBirthDate: 0x00100030,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  BurnedInAnnotation: 0x00280301,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  SamplesPerPixel: 0x00280002,
  PixelRepresentation: 0x00280103,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  PixelData: 0x7fe00010,
  FloatPixelData: 0x7fe00008,
  DoubleFloatPixelData: 0x7fe00009,
  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
  PhotometricInterpretation: 0x00280004,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelDataProviderURL: 0x00287fe0,
  EncapsulatedDocument: 0x00420011,
  MIMETypeOfEncapsulatedDocument: 0x00420012,
  ExtendedOffsetTable: 0x7fe00001,
} as const;

/** `(0010,0010)` */
export function formatTag(tag: number): string {
  let text = formatted.get(tag);
  if (text === undefined) {
    const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
    text = `(${hex.slice(0, 4)},${hex.slice(4)})`;
    if (formatted.size < 20_000) formatted.set(tag, text);
  }
  return text;
}
const formatted = new Map<number, string>();

export function isPrivateTag(tag: number): boolean {
  return ((tag >>> 16) & 1) === 1;
}

/** A private creator element: (gggg,0010-00FF) in an odd group. */
export function isPrivateCreator(tag: number): boolean {
  const element = tag & 0xffff;
  return isPrivateTag(tag) && element >= 0x10 && element <= 0xff;
}
