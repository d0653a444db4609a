// Private tile transforms of the CPU Winograd F(2x2,3x3) convolution: filters, input tiles, output tiles, gradients.
#pragma once
/*
  Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016), F(2x2, 3x3): for a 4x4
  input tile d and a 3x3 filter g, the 2x2 output tile of their correlation is
      Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
  with
      B^T = [ 1  0 -1  0 ]      G = [ 1    0    0   ]      A^T = [ 1  1  1  0 ]
            [ 0  1  1  0 ]          [ 1/2  1/2  1/2 ]            [ 0  1 -1 -1 ]
            [ 0 -1  1  0 ]          [ 1/2 -1/2  1/2 ]
            [ 0  1  0 -1 ]          [ 0    0    1   ]
  With padding 1, tile (i, j) of an [h, w] plane covers input rows 2i-1..2i+2 and columns
  2j-1..2j+2 (zeros outside the plane) and gives output rows 2i, 2i+1 and columns 2j, 2j+1
  (the last tile row / column is partial when h / w is odd). A plane has ceil(h/2) x ceil(w/2)
  tiles, numbered i * tiles_w + j. The 16 elements xi = 4 a + b of a transformed 4x4 tile are kept
  as 16 separate matrices ("element planes", `stride` elements apart), each contiguous along the
  tiles: the transforms below run along the tiles, vectorised along them (flat loops over a whole
  plane where the layouts line up, tile row by tile row where they do not).
  Every 4x4 transform is separable: X^T d X = X^T (d X), rows first ("horizontal"), then columns.
*/
#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace px::cpu::winograd {

// ceil(extent / 2): tiles along one side of a plane.
inline std::int64_t tiles_along(std::int64_t extent) { return (extent + 1) / 2; }

// Per-thread work space of the plane transforms for [h, w] planes: `copies` zero-bordered copies of
// input planes ((2 th + 2) x (2 tw + 2), 4 spare each), one of an output-gradient plane (2 th x
// 2 tw), and intermediate rows. The caller zeroes it once: only the inside of the copies is written.
struct PlaneWork {
  std::int64_t th, tw, copies;
  PlaneWork(std::int64_t h, std::int64_t w, std::int64_t copies_)
      : th(tiles_along(h)), tw(tiles_along(w)), copies(copies_) {}
  std::int64_t copy_size() const { return (2 * th + 2) * (2 * tw + 2) + 4; }
  std::int64_t input_copy(std::int64_t k) const { return k * copy_size(); }
  std::int64_t gradient_copy() const { return copies * copy_size(); }
  std::int64_t rows() const { return gradient_copy() + 4 * th * tw; }
  std::int64_t size() const { return rows() + 4 * (2 * th + 2) * (tw + 1); }
};

// dst [rows, w] (rows ld apart) = src [rows, w] (dense).
template <class T>
void copy_rows(const T* src, std::int64_t rows, std::int64_t w, T* dst, std::int64_t ld) {
  for (std::int64_t y = 0; y < rows; ++y) {
    const T* __restrict from = src + y * w;
    T* __restrict to = dst + y * ld;
    for (std::int64_t c = 0; c < w; ++c) to[c] = from[c];
  }
}

// Calls f(std::integral_constant<int, TW>{}) with TW = th = tw for square planes of the usual sizes
// (2 to 32 pixels a side: loops of fixed trip counts, vectorised without remainders), else TW = 0
// (the plane functions then read th and tw at run time).
template <class F>
void with_tile_width(std::int64_t th, std::int64_t tw, F&& f) {
  switch (th == tw ? tw : 0) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

// u[xi * stride] = (G g G^T)_xi, xi = 4 a + b, for the 3x3 filter g[r][s] = g[(3 r + s) * step]
// (step -1 from the last element reads the filter rotated by 180 degrees).
template <class T>
void filter_tile(const T* g, std::int64_t step, T* u, std::int64_t stride) {
  const T h = T(0.5);
  T t[4][3];  // G g: rows of G applied down each column s of g
  for (int s = 0; s < 3; ++s) {
    const T g0 = g[s * step], g1 = g[(3 + s) * step], g2 = g[(6 + s) * step];
    t[0][s] = g0;
    t[1][s] = h * (g0 + g1 + g2);
    t[2][s] = h * (g0 - g1 + g2);
    t[3][s] = g2;
  }
  for (int a = 0; a < 4; ++a) {  // (G g) G^T
    T* row = u + 4 * a * stride;
    row[0] = t[a][0];
    row[stride] = h * (t[a][0] + t[a][1] + t[a][2]);
    row[2 * stride] = h * (t[a][0] - t[a][1] + t[a][2]);
    row[3 * stride] = t[a][2];
  }
}

// g[r][s] (3x3, row-major) = (G^T W G)[r][s] for the 16 values W_xi = wt[xi * stride]: the
// transpose of filter_tile, taking a gradient on the transformed filter back to the filter.
template <class T>
void filter_tile_transpose(const T* wt, std::int64_t stride, T* g) {
  const T h = T(0.5);
  T t[4][3];  // W G
  for (int a = 0; a < 4; ++a) {
    const T w0 = wt[4 * a * stride], w1 = wt[(4 * a + 1) * stride], w2 = wt[(4 * a + 2) * stride],
            w3 = wt[(4 * a + 3) * stride];
    t[a][0] = w0 + h * (w1 + w2);
    t[a][1] = h * (w1 - w2);
    t[a][2] = h * (w1 + w2) + w3;
  }
  for (int s = 0; s < 3; ++s) {  // G^T (W G)
    g[s] = t[0][s] + h * (t[1][s] + t[2][s]);
    g[3 + s] = h * (t[1][s] - t[2][s]);
    g[6 + s] = h * (t[1][s] + t[2][s]) + t[3][s];
  }
}

// The zero-bordered copy of one [h, w] input plane x at work + pw.input_copy(k).
template <class T>
void copy_input(const T* x, std::int64_t h, std::int64_t w, const PlaneWork& pw, std::int64_t k, T* work) {
  copy_rows(x, h, w, work + pw.input_copy(k) + 2 * pw.tw + 3, 2 * pw.tw + 2);
}

// v[xi * stride + i * tw + j] = (B^T d_ij B)_xi for every tile of the [h, w] input plane whose
// zero-bordered copy (copy_input) is pad: every tile reads its 4 x 4 values in place, the rows
// first (d B, one flat loop over every padded row, rw = tw + 1 tiles a row, the last of no use),
// then the columns (B^T (d B), tile row by tile row).
template <int TW, class T>
void input_tiles_of(const T* __restrict pad, std::int64_t h, std::int64_t w, T* v, std::int64_t stride,
                    T* rows) {
  const std::int64_t th = TW ? TW : tiles_along(h), tw = TW ? TW : tiles_along(w), rw = tw + 1,
                     count = (2 * th + 2) * rw;
  T* __restrict h0 = rows;  // h_b[r * rw + j] = (d B)_b of tile j of padded row r
  T* __restrict h1 = h0 + count;
  T* __restrict h2 = h1 + count;
  T* __restrict h3 = h2 + count;
#pragma omp simd
  for (std::int64_t u = 0; u < count; ++u) {
    const T d0 = pad[2 * u], d1 = pad[2 * u + 1], d2 = pad[2 * u + 2], d3 = pad[2 * u + 3];
    h0[u] = d0 - d2;
    h1[u] = d1 + d2;
    h2[u] = d2 - d1;
    h3[u] = d1 - d3;
  }
  for (std::int64_t i = 0; i < th; ++i) {
    for (int b = 0; b < 4; ++b) {
      const T* __restrict d0 = h0 + b * count + 2 * i * rw;  // padded rows 2i .. 2i+3
      const T* __restrict d1 = d0 + rw;
      const T* __restrict d2 = d1 + rw;
      const T* __restrict d3 = d2 + rw;
      T* __restrict v0 = v + b * stride + i * tw;
      T* __restrict v1 = v0 + 4 * stride;
      T* __restrict v2 = v1 + 4 * stride;
      T* __restrict v3 = v2 + 4 * stride;
#pragma omp simd
      for (std::int64_t j = 0; j < tw; ++j) {
        v0[j] = d0[j] - d2[j];
        v1[j] = d1[j] + d2[j];
        v2[j] = d2[j] - d1[j];
        v3[j] = d1[j] - d3[j];
      }
    }
  }
}

template <class T>
void input_tiles(const T* pad, std::int64_t h, std::int64_t w, T* v, std::int64_t stride, T* rows) {
  with_tile_width(tiles_along(h), tiles_along(w),
                  [&](auto tw) { input_tiles_of<tw()>(pad, h, w, v, stride, rows); });
}

// y [p, q] plane = A^T M_ij A for every tile, M_xi = m[xi * stride + i * tw + j]: the columns
// (A^T M, one flat loop over the plane's tiles), then the rows, written to the plane pixel pairs by
// pixel pairs; the partial last tile row / column writes only the pixels inside the plane.
template <int TW, class T>
void output_tiles_of(const T* m, std::int64_t stride, std::int64_t p, std::int64_t q, T* y, T* rows) {
  const std::int64_t th = TW ? TW : tiles_along(p), tw = TW ? TW : tiles_along(q), tiles = th * tw;
  T* u = rows;  // u[(4 a + b) * tiles + t] = (A^T M_t)[a][b]
  for (int b = 0; b < 4; ++b) {
    const T* __restrict m0 = m + b * stride;
    const T* __restrict m1 = m0 + 4 * stride;
    const T* __restrict m2 = m1 + 4 * stride;
    const T* __restrict m3 = m2 + 4 * stride;
    T* __restrict u0 = u + b * tiles;
    T* __restrict u1 = u + (4 + b) * tiles;
#pragma omp simd
    for (std::int64_t t = 0; t < tiles; ++t) {
      u0[t] = m0[t] + m1[t] + m2[t];
      u1[t] = m1[t] - m2[t] - m3[t];
    }
  }
  const std::int64_t pairs = q / 2;
  for (std::int64_t i = 0; i < th; ++i) {
    for (int a = 0; a < 2 && 2 * i + a < p; ++a) {
      const T* __restrict s0 = u + 4 * a * tiles + i * tw;
      const T* __restrict s1 = s0 + tiles;
      const T* __restrict s2 = s1 + tiles;
      const T* __restrict s3 = s2 + tiles;
      T* __restrict row = y + (2 * i + a) * q;
#pragma omp simd
      for (std::int64_t j = 0; j < pairs; ++j) {
        row[2 * j] = s0[j] + s1[j] + s2[j];
        row[2 * j + 1] = s1[j] - s2[j] - s3[j];
      }
      if (q % 2) row[q - 1] = s0[tw - 1] + s1[tw - 1] + s2[tw - 1];
    }
  }
}

template <class T>
void output_tiles(const T* m, std::int64_t stride, std::int64_t p, std::int64_t q, T* y, T* rows) {
  with_tile_width(tiles_along(p), tiles_along(q),
                  [&](auto tw) { output_tiles_of<tw()>(m, stride, p, q, y, rows); });
}

// g[xi * stride + i * tw + j] = (A dY_ij A^T)_xi for every 2x2 tile of one [p, q] output-gradient
// plane dy (zeros beyond a partial tile): the transpose of output_tiles. Rows first (dY A^T, one
// flat loop over the plane read as 2 th rows of tw pixel pairs: a zero-bordered copy when p or q
// is odd), then the columns, tile row by tile row.
template <int TW, class T>
void gradient_tiles_of(const T* dy, std::int64_t p, std::int64_t q, T* g, std::int64_t stride, const PlaneWork& pw,
                       T* work) {
  const std::int64_t th = TW ? TW : pw.th, tw = TW ? TW : pw.tw, count = 2 * th * tw;
  const T* __restrict src = dy;
  if (p % 2 || q % 2) {
    copy_rows(dy, p, q, work + pw.gradient_copy(), 2 * tw);
    src = work + pw.gradient_copy();
  }
  T* __restrict h0 = work + pw.rows();  // h_b[y * tw + j] = (dY A^T)_b of pixel pair j of row y
  T* __restrict h1 = h0 + count;
  T* __restrict h2 = h1 + count;
  T* __restrict h3 = h2 + count;
#pragma omp simd
  for (std::int64_t u = 0; u < count; ++u) {
    const T e = src[2 * u], o = src[2 * u + 1];
    h0[u] = e;
    h1[u] = e + o;
    h2[u] = e - o;
    h3[u] = -o;
  }
  for (std::int64_t i = 0; i < th; ++i) {
    for (int b = 0; b < 4; ++b) {
      const T* __restrict r0 = h0 + b * count + 2 * i * tw;  // rows 2i and 2i+1
      const T* __restrict r1 = r0 + tw;
      T* __restrict g0 = g + b * stride + i * tw;
      T* __restrict g1 = g0 + 4 * stride;
      T* __restrict g2 = g1 + 4 * stride;
      T* __restrict g3 = g2 + 4 * stride;
#pragma omp simd
      for (std::int64_t j = 0; j < tw; ++j) {
        g0[j] = r0[j];
        g1[j] = r0[j] + r1[j];
        g2[j] = r0[j] - r1[j];
        g3[j] = -r1[j];
      }
    }
  }
}

template <class T>
void gradient_tiles(const T* dy, std::int64_t p, std::int64_t q, T* g, std::int64_t stride, const PlaneWork& pw,
                    T* work) {
  with_tile_width(pw.th, pw.tw, [&](auto tw) { gradient_tiles_of<tw()>(dy, p, q, g, stride, pw, work); });
}

}  // namespace px::cpu::winograd
