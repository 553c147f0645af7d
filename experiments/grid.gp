# grid.gp - n_images rows of: original (crop) | one panel per method.
# Variables: term, out, caption, rows, n (methods), dir (image<r>.rgb, map<r>_<k>.f32), names,
# labels (one word per row: the explained class), size.
if (term eq "pdf") { set terminal pdfcairo size (n + 1) * 1.8, rows * 2.0 + 0.5 font "Sans,8" } else { set terminal pngcairo size (n + 1) * 190, rows * 212 + 50 font "Sans,9" }
set termoption noenhanced
set output out
set multiplot layout rows, n + 1 title caption . "\n" font ",8"
set lmargin 0.3; set rmargin 0.3; set tmargin 1.3; set bmargin 0.4
unset border; unset tics; unset key; unset colorbox
set size ratio -1
set xrange [-0.5:size - 0.5]; set yrange [-0.5:size - 0.5]
set palette defined (0 "black", 0.35 "#7a0000", 0.7 "#ff8000", 1 "#ffffc0")
set cbrange [0:1]
do for [r = 1:rows] {
    set title word(labels, r)
    plot sprintf("%s/image%d.rgb", dir, r) binary array=(size,size) format="%uchar%uchar%uchar" flipy with rgbimage
    do for [k = 1:n] {
        set title (r == 1 ? word(names, k) : "")
        plot sprintf("%s/map%d_%d.f32", dir, r, k) binary array=(size,size) format="%float" flipy with image
    }
}
unset multiplot
