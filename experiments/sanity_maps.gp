# sanity_maps.gp - the sanity check's maps for one image, as figure 2 of Adebayo et al. 2018:
# one row per method, one column per step (the original maps, then each randomization step,
# its layers named above the top row); each row's first panel is titled with its method.
# Variables (gnuplot -e): term, out, dir (sanity_s<step>_m<method>.f32, [0,1], size x size),
# steps, n (methods), names (method words), labels (step words), size.
if (term eq "pdf") { set terminal pdfcairo size steps * 0.8 + 0.6, n * 0.9 + 0.4 font "Sans,4" } else { set terminal pngcairo size steps * 96 + 40, n * 104 + 40 font "Sans,6" }
set termoption noenhanced
set output out
set multiplot layout n, steps
set lmargin 0.2; set rmargin 0.2; set tmargin 2.2; set bmargin 0.2
unset border; unset tics; unset key; unset colorbox
set size ratio -1
set xrange [-0.5:size - 0.5]; set yrange [-0.5:size - 0.5]
set palette defined (0 "black", 0.35 "#7a0000", 0.7 "#ff8000", 1 "#ffffc0")
set cbrange [0:1]
do for [m = 1:n] {
    do for [s = 1:steps] {
        set title (s == 1 ? word(names, m) . (m == 1 ? ", " : "") : "") . (m == 1 ? word(labels, s) : "") font ",6"
        plot sprintf("%s/sanity_s%d_m%d.f32", dir, s, m) binary array=(size,size) format="%float" flipy with image
    }
}
unset multiplot
