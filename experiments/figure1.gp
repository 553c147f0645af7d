# figure1.gp - the comparison figure for one image: original (crop) | one panel per method.
# Variables (gnuplot -e): term ("png" or "pdf"), out, title, caption, n (methods), dir (data
# folder with original.rgb and map1.f32 .. mapN.f32, 224x224), names (method titles, words),
# size (pixels per side).
if (term eq "pdf") { set terminal pdfcairo size (n + 1) * 2.2, 2.8 font "Sans,9" } else { set terminal pngcairo size (n + 1) * 240, 300 font "Sans,10" }
set termoption noenhanced
set output out
set multiplot layout 1, n + 1 title title font ",12"
unset border; unset tics; unset key; unset colorbox
set size ratio -1
set xrange [-0.5:size - 0.5]; set yrange [-0.5:size - 0.5]
set lmargin 0.5; set rmargin 0.5; set tmargin 2; set bmargin 2.5
set palette defined (0 "black", 0.35 "#7a0000", 0.7 "#ff8000", 1 "#ffffc0")
set cbrange [0:1]
set title "original (crop)"
plot dir . "/original.rgb" binary array=(size,size) format="%uchar%uchar%uchar" flipy with rgbimage
do for [k = 1:n] {
    set title word(names, k)
    if (k == n) { set label 1 caption at screen 0.5, 0.04 center font ",8" }
    plot sprintf("%s/map%d.f32", dir, k) binary array=(size,size) format="%float" flipy with image
}
unset multiplot
