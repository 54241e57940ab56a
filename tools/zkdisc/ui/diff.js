/* SPDX-License-Identifier: Apache-2.0 */
// A side-by-side line diff (longest common subsequence), for two versions
// of a configuration document rendered as sorted, indented JSON.

// The edit script: [{op: '=', a, b} | {op: '-', a} | {op: '+', b}].
export function diffLines(a, b) {
  const n = a.length, m = b.length;
  // Trim the common head and tail: documents differ in a few lines.
  let head = 0;
  while (head < n && head < m && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < n - head && tail < m - head && a[n - 1 - tail] === b[m - 1 - tail]) tail++;
  const A = a.slice(head, n - tail), B = b.slice(head, m - tail);
  const ops = [];
  for (let i = 0; i < head; i++) ops.push({ op: '=', a: i, b: i });
  if (A.length * B.length > 4e6) { // too big to align: all out, all in
    A.forEach((_, i) => ops.push({ op: '-', a: head + i }));
    B.forEach((_, j) => ops.push({ op: '+', b: head + j }));
  } else {
    const w = B.length + 1, L = new Uint32Array((A.length + 1) * w);
    for (let i = A.length - 1; i >= 0; i--)
      for (let j = B.length - 1; j >= 0; j--)
        L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    let i = 0, j = 0;
    while (i < A.length || j < B.length) {
      if (i < A.length && j < B.length && A[i] === B[j]) { ops.push({ op: '=', a: head + i, b: head + j }); i++; j++; }
      else if (j < B.length && (i === A.length || L[i * w + j + 1] >= L[(i + 1) * w + j])) { ops.push({ op: '+', b: head + j }); j++; }
      else { ops.push({ op: '-', a: head + i }); i++; }
    }
  }
  for (let t = 0; t < tail; t++) ops.push({ op: '=', a: n - tail + t, b: m - tail + t });
  return ops;
}

// Rows of a side-by-side view: runs of removals and additions paired up.
export function sideBySide(a, b) {
  const ops = diffLines(a, b), rows = [];
  for (let k = 0; k < ops.length;) {
    if (ops[k].op === '=') { rows.push({ kind: 'same', l: ops[k].a, r: ops[k].b }); k++; continue; }
    const del = [], add = [];
    while (k < ops.length && ops[k].op !== '=') {
      if (ops[k].op === '-') del.push(ops[k].a); else add.push(ops[k].b);
      k++;
    }
    for (let t = 0; t < Math.max(del.length, add.length); t++)
      rows.push({ kind: 'change', l: del[t], r: add[t] });
  }
  return rows;
}
