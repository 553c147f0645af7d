# boxplots.gp - one panel per metric, one box per method (median, quartiles, 1.5 IQR whiskers),
# the mean marked, over the images of a run.
# Variables: term, out, dir (metric<j>_method<k>.txt: one value per line), metrics and names
# (words), m (metrics), n (methods), title.
if (term eq "pdf") { set terminal pdfcairo size 11, 5.5 font "Sans,8" } else { set terminal pngcairo size 1500, 760 font "Sans,9" }
set termoption noenhanced
set output out
set multiplot layout 2, (m + 1) / 2 title title font ",11"
set style data boxplot
set style boxplot nooutliers
set style fill solid 0.4 border -1
set boxwidth 0.5
unset key
set xtics rotate by 30 right font ",7"
set xrange [0.3:n + 0.7]
do for [j = 1:m] {
    set title word(metrics, j)
    set xtics () 
    do for [k = 1:n] { set xtics add (word(names, k) k) }
    plot for [k = 1:n] sprintf("%s/metric%d_method%d.txt", dir, j, k) using (k):1 lc k, \
         for [k = 1:n] sprintf("%s/metric%d_method%d.txt", dir, j, k) using (k):1 smooth unique with points pt 7 ps 0.7 lc rgb "black" notitle
}
unset multiplot
