const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/**
 * The `-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----` blocks of `text`, in order: what
 * `text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)` finds, in one pass.
 * That regex re-scans to the end of the text from every BEGIN that has no END after it, so n unmatched
 * BEGINs cost O(n²) (a 1 MiB body of them took minutes). Here each character is looked at a bounded number
 * of times: once a BEGIN has no END after it, no later BEGIN has one either, and the scan stops.
 */
export function pemCertificateBlocks(text: string): string[] {
  const blocks: string[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, from);
    if (begin === -1) break;
    // `[\s\S]+?`: at least one character between the markers.
    const end = text.indexOf(END, begin + BEGIN.length + 1);
    if (end === -1) break;
    blocks.push(text.slice(begin, end + END.length));
    from = end + END.length;
  }
  return blocks;
}
