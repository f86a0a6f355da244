package ecdsabatch

import "filippo.io/nistec"

// zBits is the length of the random weights zᵢ.
const zBits = 128

// windows returns the number of c-bit signed digits of a zBits-bit scalar:
// one more bit than zBits leaves room for the last carry.
func windows(c int) int { return (zBits + c) / c }

// window picks Pippenger's window width c for n points with zBits-bit
// scalars in signed digits: each of the windows costs about n additions into
// the 2ᶜ⁻¹ buckets plus 2·2ᶜ⁻¹ to sum them.
func window(n int) int {
	best, bestCost := 1, -1
	for c := 2; c <= 16; c++ {
		cost := windows(c) * (n + 2<<(c-1))
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// signedDigits writes z = Σ_j digits[j]·2^(c·j) into digits, which has room
// for windows(c) of them, every digit in [−2ᶜ⁻¹, 2ᶜ⁻¹) but the last, which is
// in [0, 2ᶜ⁻¹]: the last window holds fewer than c bits of z plus a carry.
func signedDigits(z [2]uint64, c int, digits []int32) {
	carry := uint64(0)
	for j := range digits {
		lo := j * c
		var d uint64
		if lo < zBits {
			w, off := lo/64, lo%64
			d = z[w] >> off
			if off+c > 64 && w == 0 {
				d |= z[1] << (64 - off)
			}
			d &= 1<<c - 1
		}
		d += carry
		if d >= 1<<(c-1) && j < len(digits)-1 {
			digits[j] = int32(d) - 1<<c
			carry = 1
		} else {
			digits[j] = int32(d)
			carry = 0
		}
	}
}

// multiScalarMult returns Σ zs[i]·points[i] by Pippenger's bucket method
// with signed digits, so that −P can go into the bucket of P (negation is
// nearly free) and there are half as many buckets to sum.
func multiScalarMult(zs [][2]uint64, points []*nistec.P256Point) *nistec.P256Point {
	c := window(len(points))
	nw := windows(c)
	digits := make([]int32, nw*len(points)) // digits of point i at [i·nw, (i+1)·nw)
	for i := range zs {
		signedDigits(zs[i], c, digits[i*nw:(i+1)*nw])
	}
	nb := 1 << (c - 1)
	buckets := make([]*nistec.P256Point, nb+1) // bucket d: Σ ±Pᵢ with digit ±d, valid where used[d]
	for d := range buckets {
		buckets[d] = nistec.NewP256Point()
	}
	used := make([]bool, nb+1)
	acc := nistec.NewP256Point()
	sum, tot, neg := nistec.NewP256Point(), nistec.NewP256Point(), nistec.NewP256Point()
	for j := nw - 1; j >= 0; j-- {
		if j < nw-1 {
			for range c {
				acc.Double(acc)
			}
		}
		clear(used)
		for i, p := range points {
			d := digits[i*nw+j]
			if d == 0 {
				continue
			}
			if d < 0 {
				d = -d
				p = neg.Negate(p)
			}
			if used[d] {
				buckets[d].Add(buckets[d], p)
			} else {
				buckets[d].Set(p)
				used[d] = true
			}
		}
		// Σ d·bucket[d] as a running sum from the top bucket down: after
		// bucket d, sum = Σ_{k≥d} bucket[k] and tot gains sum once per d.
		started := false
		for d := nb; d >= 1; d-- {
			if used[d] {
				if started {
					sum.Add(sum, buckets[d])
				} else {
					sum.Set(buckets[d])
					tot.Set(buckets[d])
					started = true
					continue
				}
			}
			if started {
				tot.Add(tot, sum)
			}
		}
		if started {
			acc.Add(acc, tot)
		}
	}
	return acc
}
