# grid.gp - n_images rows of: original (crop) | one panel per method.
# Variables (the .vars.gp file before it): term (png, pdf or svg), out, caption, rows, n (methods), dir
# (image<r>.rgb, map<r>_<k>.f32), names (method words), row_title[1..rows] (row r's explained
# class), size.
# The panels are placed by hand: column titles above the top row only, and each row's class
# written up the left of its own original, so that no label can be read as another row's.
cell = 190; strip = 26; head = 48; foot = 6; gap = 4
W = strip + (n + 1) * cell; H = head + rows * cell + foot
if (term eq "pdf") { set terminal pdfcairo size W / 100.0, H / 100.0 font "Sans,8" }
if (term eq "png") { set terminal pngcairo size W, H font "Sans,9" }
if (term eq "svg") { set terminal svg size W, H font "Sans,9" } # the tests read its text
set termoption noenhanced
set output out
set multiplot
set label 2 caption at screen 0.5, 1.0 - 12.0 / H center font ",8"
unset border; unset tics; unset key; unset colorbox
set xrange [-0.5:size - 0.5]; set yrange [-0.5:size - 0.5]
set palette defined (0 "black", 0.35 "#7a0000", 0.7 "#ff8000", 1 "#ffffc0")
set cbrange [0:1]
do for [r = 1:rows] {
    set tmargin at screen 1.0 - (head + (r - 1) * cell + gap / 2) / (1.0 * H)
    set bmargin at screen 1.0 - (head + r * cell - gap / 2) / (1.0 * H)
    do for [k = 0:n] {
        set lmargin at screen (strip + k * cell + gap / 2) / (1.0 * W)
        set rmargin at screen (strip + (k + 1) * cell - gap / 2) / (1.0 * W)
        set title (r == 1 ? (k == 0 ? "original (crop)" : word(names, k)) : "") offset 0, -0.4
        if (k == 0) {
            set label 1 row_title[r] at screen (strip / 2.0) / W, 1.0 - (head + (r - 0.5) * cell) / (1.0 * H) center rotate by 90
            plot sprintf("%s/image%d.rgb", dir, r) binary array=(size,size) format="%uchar%uchar%uchar" flipy with rgbimage
            unset label 1
        } else {
            plot sprintf("%s/map%d_%d.f32", dir, r, k) binary array=(size,size) format="%float" flipy with image
        }
        unset label 2
    }
}
unset multiplot
