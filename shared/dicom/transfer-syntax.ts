/** How a data set is encoded. */
export interface Encoding {
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
}

export interface TransferSyntaxInfo extends Encoding {
  readonly uid: string;
  /** The data set after the file meta is deflated (zlib "deflate", no header): the Node runner inflates it. */
  readonly deflated: boolean;
}

export const ImplicitVRLittleEndian = '1.2.840.10008.1.2';
export const ExplicitVRLittleEndian = '1.2.840.10008.1.2.1';
export const DeflatedExplicitVRLittleEndian = '1.2.840.10008.1.2.1.99';
export const ExplicitVRBigEndian = '1.2.840.10008.1.2.2';

export const explicitLittle: Encoding = { explicitVr: true, littleEndian: true };
export const implicitLittle: Encoding = { explicitVr: false, littleEndian: true };
export const explicitBig: Encoding = { explicitVr: true, littleEndian: false };

/** Every other transfer syntax (encapsulated ones) uses explicit VR little endian for the data set. */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo {
  switch (uid) {
    case ImplicitVRLittleEndian:
      return { uid, ...implicitLittle, deflated: false };
    case ExplicitVRBigEndian:
      return { uid, ...explicitBig, deflated: false };
    case DeflatedExplicitVRLittleEndian:
    case '1.2.840.10008.1.2.4.95':
      return { uid, ...explicitLittle, deflated: true };
    default:
      return { uid, ...explicitLittle, deflated: false };
  }
}
